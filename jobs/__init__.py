"""The job domain: settings, database, models, specs, services and the CLI."""
