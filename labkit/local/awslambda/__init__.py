"""The local Lambda: deployed functions really run, each in processes of its own."""
