"""The way back after a breach: recovery plans, the person's responses, cohort figures."""
