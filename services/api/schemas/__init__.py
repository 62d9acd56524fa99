"""Request and response shapes of the API areas whose controllers span several modules."""
