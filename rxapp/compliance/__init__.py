"""The compliance and demand view (/compliance): the Victims' Code measures, demand and feedback figures."""
