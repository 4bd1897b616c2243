"""What notebooks show: the pipeline, alarm plots and watch, Slack previews, friendly errors."""
