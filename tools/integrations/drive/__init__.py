"""The drive tools: list, search, read and write the workspace's files (`tools.drive.WorkspaceDrive`)."""
