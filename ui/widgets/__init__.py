"""Small, dumb widgets: they lay themselves out, show models and emit what the user did."""
