"""The delivery pipeline: validate, plan, summarise, apply, and talk to GitHub."""
