"""Users and their roles (requester, worker; admins are staff)."""
