"""Two-way sync with clinicians' own CalDAV calendars: plain engine, thin Plone adapter."""
