"""The billing desk: a web page for clerks over one output folder."""
