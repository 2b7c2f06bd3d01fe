"""E-mails (iMIP) and SMS: messages, the transactional outbox and its delivery."""
