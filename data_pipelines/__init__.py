"""datatrove pipelines and our own datatrove blocks (all offline: nothing is fetched at run time)."""
