"""Historical geocoding: parse addresses, match them to the streets of their year, position them."""
