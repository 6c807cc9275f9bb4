"""Teams from project_configs.json: deploy, restart, stop and broadcast (team.py), their
crontab lines, spawn, up, status, the projects' git (backup, stable, finish), telling a
person (attention), and learnings. The top layer: it may import every other part."""
