from geecache.node import main

main()
