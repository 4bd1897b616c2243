"""The local Slack: incoming webhooks, a store of messages, channel pages and fault plans."""
