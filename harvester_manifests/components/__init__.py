"""One module per component; each turns a Config into plain Kubernetes objects."""
