"""What runs behind the routes: the inference worker, its batch sizing, and the service's
lifecycle (loading, readiness, stopping)."""
