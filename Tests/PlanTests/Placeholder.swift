// Placeholder so the test target builds until its first real test lands; removed then.
