//! Container networking: none, host, pasta / slirp4netns with published ports, and joining
//! another container's network namespace. Arrives with the networking issue.
