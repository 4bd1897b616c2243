"""The check at the end of every notebook: what each step must achieve, and its report."""
