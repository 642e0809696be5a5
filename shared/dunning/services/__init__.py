"""Use cases over the ports (dunning.ports): the only thing handlers call. No service imports the AWS SDK."""
