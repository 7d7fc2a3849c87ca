"""The web GUI: live annotated video per camera, people counts, % masked over time, JSON API and
Prometheus metrics, served by waitress (see :mod:`facemask.web.main`)."""
