"""StreamService: declared in the contract; its methods answer UNIMPLEMENTED until they are built."""
