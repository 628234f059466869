"""The Clustering tab: k-means and EM stepped one iteration at a time; BIC / AIC."""
