"""The simulator: a compressed city day played through the public HTTP API only.

`dispatch simulate` (or `python -m services.simulator`) acts as the three kinds of apps would:
clients ask quotes and order, provider apps poll their offers, accept most and decline some,
go on duty with a position, start missions with the client's start code and complete them,
and both sides rate each other. Ops set up what is missing (zones, a published grid,
providers vetted, trained and activated) through the same API with an ops token.

How time is compressed
----------------------
A simulated day of 24 h is played in `duration_s` real seconds: the compression factor is
`86400 / duration_s` (480 for the default 180 s). What belongs to the *people* is compressed:
when orders are booked (the demand curve over the simulated day), the providers' shifts,
travel, work and think times. What belongs to the *services* is not: they run on their real
clocks, so every order is booked for a window in the near real future (its start `lead_s`
real seconds after the quote, its slack just over the orders service's dispatch margin so
that the dispatch deadline falls `patience_s` real seconds after the start), offers lapse
after the matching service's real TTL, and dispatch latencies are real seconds. Pricing
therefore sees every order as urgent and applies evening/night surcharges by the real clock.
Provider hours and net hourly pay are counted in *simulated* minutes (work = the booked
duration, travel = matching's estimate), since real elapsed minutes are compressed.

Only `services.demo.city` (pure open data) and `shared` (token minting, fair-pay arithmetic)
are imported from the project; everything else goes over HTTP to a loopback base URL.
"""
