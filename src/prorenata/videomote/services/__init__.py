"""plone.restapi endpoints: one folder per service, one module per method."""
