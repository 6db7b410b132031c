complete --keep-order --exclusive --command nook --arguments "(NOOK_COMPLETE=fish nook -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
