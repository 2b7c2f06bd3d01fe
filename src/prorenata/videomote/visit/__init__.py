"""The visit after the meeting: attendance from the room's own join/leave events, an
outcome (Genomfört, Uteblev, Avbrutet), a draft visit note in the record, statistics."""
