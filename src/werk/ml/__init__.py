"""Predict failures and scrap, and prove it on plants the model was not trained on."""
