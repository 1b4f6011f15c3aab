"""TikTok Business API over HTTPS: one client (envelope, errors, retries), one module per API family."""
