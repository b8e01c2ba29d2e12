"""werk: an open industrial data platform for manufacturers that run many plants."""

__version__ = "0.1.0"
