"""The audit log: records of mutating calls, appended durably and listed newest first."""
