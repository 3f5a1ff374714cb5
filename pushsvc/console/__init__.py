"""The operator console: a static single-page app at ``/console/`` over the operator, KPI and feeds APIs."""
