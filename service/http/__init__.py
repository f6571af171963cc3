"""HTTP plumbing of the service: middleware, slow clients, problem details, content
negotiation, request context, the OpenAPI document and the page's headers."""
