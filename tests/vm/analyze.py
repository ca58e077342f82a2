#!/usr/bin/env python3
import sys; print(open(sys.argv[1]+"/facts.env").read() if __import__("os").path.exists(sys.argv[1]+"/facts.env") else "no facts")
