"""TikTok Business API: one client, one module per API family."""
