"""Planning: batch plans of a namespace's live work (rolling horizon) and one-off plans of given
problems."""
