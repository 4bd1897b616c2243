"""The local cloud: one background process hosting moto and a local Slack on 127.0.0.1."""
