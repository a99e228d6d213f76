"""Contracting's pure rules, no I/O: lots and Open House admission, the published declaration rules,
and the declaration checker with what an allocation allows."""
