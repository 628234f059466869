"""The ELBO tab: the IWAE curve, the KL per dimension and the disentanglement scores."""
