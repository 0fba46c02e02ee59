"""AWS clients behind small interfaces, so logic and handlers can be tested with fakes."""
