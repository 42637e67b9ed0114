"""Accounts and access: logins, sessions, one-time links, throttling,
audit (the gateway's own database). `rules` decides, `store` keeps,
`routes` translates HTTP."""
