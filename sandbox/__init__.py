"""The whole stack on moto, in one process: what `dunning simulate` and `dunning serve` run."""

import os

# The layer (shared/dunning) builds its Powertools Logger and Metrics when first imported, from the
# environment. On Lambda that is the function's environment; here the driver may import the layer
# first (a report, an audit, a summary of sharded runs) outside any function, and a later in-process
# run's functions would then flush metrics with no namespace. The process carries what the template
# gives every function (Globals), so whichever import comes first configures the layer the same.
POWERTOOLS_GLOBALS = {"POWERTOOLS_SERVICE_NAME": "dunning", "POWERTOOLS_METRICS_NAMESPACE": "Dunning"}
os.environ.update({name: value for name, value in POWERTOOLS_GLOBALS.items() if name not in os.environ})
