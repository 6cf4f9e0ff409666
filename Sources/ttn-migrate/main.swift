print("ttn-migrate: under construction")
