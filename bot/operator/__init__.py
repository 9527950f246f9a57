"""Operator tools over the stored stories: `kurilwatch backtest` (and the reload report it
gives the admins) and `kurilwatch export`, whose CSV the admins' /export sends too; and
`kurilwatch backup` and `restore` of the store's file (`store_files`)."""
