"""The demo (`scripts/run --demo`): sample events, the PostHog stand-in that serves them, and
a sender of webhook deliveries. Nothing here runs in production: demo mode needs DEBUG."""
