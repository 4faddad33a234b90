"""The registered generator/discriminator networks (see gan.models for the registry)."""
