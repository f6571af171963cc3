"""The REST service: ``app.create_app`` assembles it; routes/ holds its routes."""
