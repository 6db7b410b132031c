//! The per-container monitor (what conmon is to Podman): outlives the CLI, owns the container's
//! stdio, logs, attach socket, exit file, restart policy and `--rm` cleanup. Arrives with the
//! monitor issue.
