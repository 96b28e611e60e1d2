"""Worker profiles, reputation, blocks and bans."""
