"""Insights: survey results (CSAT, NPS, CES) and whether training moved them. The statistics
live in ``insights.stats``; import, roll-ups and the dashboards arrive with the rest of the
insights issue."""
